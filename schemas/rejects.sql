-- One row per rejected input or rejected row. Contract version 1.
CREATE TABLE rejects (
    reject_id VARCHAR NOT NULL,
    input_id VARCHAR NOT NULL,
    video_id VARCHAR,
    stage VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    row_json VARCHAR,
    input VARCHAR NOT NULL,
    rejected_at TIMESTAMP WITH TIME ZONE NOT NULL
);
COMMENT ON COLUMN rejects.reject_id IS 'hash of input_id, stage, level and the rejected row; unique';
COMMENT ON COLUMN rejects.input_id IS 'id of the original input row';
COMMENT ON COLUMN rejects.video_id IS 'video id when the video got that far, else null';
COMMENT ON COLUMN rejects.stage IS 'stage that rejected: source (a manifest line or folder entry that is no input) | fetch | segment | caption | qa | niah | validate | write';
COMMENT ON COLUMN rejects.level IS 'input (the whole input was dropped) | videos | clips | qa | niah (one row was dropped) | needle_image (a needle manifest row that cannot be a needle)';
COMMENT ON COLUMN rejects.reason IS 'short machine-readable reason, e.g. http_404, not_a_video, too_long, schema';
COMMENT ON COLUMN rejects.detail IS 'human-readable detail: the error message, the failed expectations, the score';
COMMENT ON COLUMN rejects.row_json IS 'the rejected row as JSON (level other than input)';
COMMENT ON COLUMN rejects.input IS 'the original input row as JSON';
COMMENT ON COLUMN rejects.rejected_at IS 'UTC time of the rejection';
