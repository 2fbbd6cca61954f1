-- One row per question-answer pair. Contract version 1.
CREATE TYPE conversation_turn AS STRUCT("from" VARCHAR, "value" VARCHAR);
CREATE TABLE qa (
    qa_id VARCHAR NOT NULL,
    video_id VARCHAR NOT NULL,
    video_uri VARCHAR NOT NULL,
    video_duration_s DOUBLE NOT NULL,
    task VARCHAR NOT NULL,
    question VARCHAR NOT NULL,
    answer VARCHAR NOT NULL,
    options VARCHAR[],
    answer_index INTEGER,
    evidence_start_s DOUBLE NOT NULL,
    evidence_end_s DOUBLE NOT NULL,
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
COMMENT ON COLUMN qa.question IS 'question text without the timestamp prompt or options';
COMMENT ON COLUMN qa.answer IS 'answer text (for multiple choice, the text of the right option)';
COMMENT ON COLUMN qa.options IS 'multiple-choice options (4, distinct) or null for open-ended questions';
COMMENT ON COLUMN qa.answer_index IS 'index of the answer in options, null for open-ended questions';
COMMENT ON COLUMN qa.evidence_start_s IS 'start of the span of the video that supports the answer';
COMMENT ON COLUMN qa.evidence_end_s IS 'end of the span of the video that supports the answer';
COMMENT ON COLUMN qa.sample_frames IS 'sampling plan: frame count T';
COMMENT ON COLUMN qa.sample_fps IS 'sampling plan: fps the plan was computed with';
COMMENT ON COLUMN qa.sample_timestamps IS 'sampling plan: frame timestamps in seconds';
COMMENT ON COLUMN qa.timestamp_prompt IS 'text that precedes the question: duration and frame count';
COMMENT ON COLUMN qa.conversations IS 'LLaVA-style turns: human (with <video> placeholder) then gpt';
COMMENT ON COLUMN qa.generator IS 'name and version of the generator that wrote the pair';
COMMENT ON COLUMN qa.split IS 'train | val | test, assigned by a stable hash of video_id';
