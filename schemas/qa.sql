-- One row per question-answer pair. Contract version 2 (v2: form, question_type, negative,
-- evidence_spans; conversations no longer repeat the timestamp prompt; split per video by the runner).
-- Answer formats (spans, counts, letters) are written and parsed by longvid_pipeline/qa/formats.py.
CREATE TYPE conversation_turn AS STRUCT("from" VARCHAR, "value" VARCHAR);
CREATE TYPE time_span AS STRUCT(start_s DOUBLE, end_s DOUBLE);
CREATE TABLE qa (
    qa_id VARCHAR NOT NULL,
    video_id VARCHAR NOT NULL,
    video_uri VARCHAR NOT NULL,
    video_duration_s DOUBLE NOT NULL,
    task VARCHAR NOT NULL,
    question_type VARCHAR NOT NULL,
    form VARCHAR NOT NULL,
    negative BOOLEAN NOT NULL,
    question VARCHAR NOT NULL,
    answer VARCHAR NOT NULL,
    options VARCHAR[],
    answer_index INTEGER,
    evidence_start_s DOUBLE NOT NULL,
    evidence_end_s DOUBLE NOT NULL,
    evidence_spans time_span[] NOT NULL,
    sample_frames INTEGER NOT NULL,
    sample_fps DOUBLE NOT NULL,
    sample_timestamps DOUBLE[] NOT NULL,
    timestamp_prompt VARCHAR NOT NULL,
    conversations conversation_turn[] NOT NULL,
    generator VARCHAR NOT NULL,
    split VARCHAR NOT NULL
);
COMMENT ON COLUMN qa.qa_id IS 'hash of video_id, task and question; unique';
COMMENT ON COLUMN qa.video_id IS 'the video the question is about (videos.video_id)';
COMMENT ON COLUMN qa.video_uri IS 'normalized media file relative to the output folder (copied from videos.uri so readers need no join)';
COMMENT ON COLUMN qa.video_duration_s IS 'duration of the video in seconds';
COMMENT ON COLUMN qa.task IS 'caption | grounding | counting | relationship | understanding';
COMMENT ON COLUMN qa.question_type IS 'task/type of question, e.g. counting/object_scenes or relationship/after (the template family, or what the LLM said it asked)';
COMMENT ON COLUMN qa.form IS 'open | multiple_choice';
COMMENT ON COLUMN qa.negative IS 'the answer is about something absent: a count of 0, an object that never appears, or None of the above';
COMMENT ON COLUMN qa.question IS 'question text without the timestamp prompt, options or answer instruction';
COMMENT ON COLUMN qa.answer IS 'answer text (for multiple choice, the text of the right option); spans and counts in the forms of qa/formats.py';
COMMENT ON COLUMN qa.options IS 'multiple-choice options (4, distinct) or null for open-ended questions';
COMMENT ON COLUMN qa.answer_index IS 'index of the answer in options, null for open-ended questions';
COMMENT ON COLUMN qa.evidence_start_s IS 'start of the span of the video that supports the answer';
COMMENT ON COLUMN qa.evidence_end_s IS 'end of the span of the video that supports the answer';
COMMENT ON COLUMN qa.evidence_spans IS 'every span that supports the answer (each counted instance of a counting question); evidence_start_s/end_s is their hull';
COMMENT ON COLUMN qa.sample_frames IS 'sampling plan: frame count T';
COMMENT ON COLUMN qa.sample_fps IS 'sampling plan: fps the plan was computed with';
COMMENT ON COLUMN qa.sample_timestamps IS 'sampling plan: frame timestamps in seconds';
COMMENT ON COLUMN qa.timestamp_prompt IS 'text that precedes the question: duration and frame count';
COMMENT ON COLUMN qa.conversations IS 'LLaVA-style turns: human (<video> placeholder, question, options, answer instruction) then gpt (the answer in the instructed style); the timestamp prompt is not repeated here: readers insert timestamp_prompt once after the placeholder';
COMMENT ON COLUMN qa.generator IS 'name and version of the generator that wrote the pair';
COMMENT ON COLUMN qa.split IS 'train | val | test: the split of the video (videos.split), assigned per video by the runner';
