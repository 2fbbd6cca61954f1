-- Views for users, over the table views that `longvid-pipeline query` defines.
CREATE VIEW qa_mc AS
    SELECT qa_id, video_id, task, question, options, answer_index, answer
    FROM qa WHERE options IS NOT NULL;
CREATE VIEW video_summary AS
    SELECT v.video_id, v.title, v.duration_s,
           (SELECT count(*) FROM clips c WHERE c.video_id = v.video_id) AS clips,
           (SELECT count(*) FROM qa q WHERE q.video_id = v.video_id) AS qa_pairs
    FROM videos v;
CREATE VIEW rejects_by_reason AS
    SELECT stage, level, reason, count(*) AS n FROM rejects GROUP BY ALL ORDER BY n DESC;
CREATE VIEW niah_cells AS
    SELECT benchmark, length, depth, hops, count(*) AS samples FROM niah GROUP BY ALL ORDER BY ALL;
