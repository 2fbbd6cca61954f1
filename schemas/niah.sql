-- One row per needle-in-a-video-haystack sample (MH-NIAH or single-hop V-NIAH). Contract version 1.
-- A sample is a video of `length` frames at `fps`: haystack frames (dataset videos at
-- timestamps, in `haystack` order) with needle frames inserted at their `frame_index`.
-- Frame i of the sample is needle k when needles[k].frame_index <= i < frame_index +
-- hold_frames; otherwise it is the next haystack frame. `longvid-pipeline render-niah`
-- writes it as an mp4.
CREATE TYPE niah_segment AS STRUCT(video_id VARCHAR, uri VARCHAR, timestamps DOUBLE[]);
CREATE TYPE niah_needle AS STRUCT(
    role VARCHAR,
    chain VARCHAR,
    chain_position INTEGER,
    frame_index INTEGER,
    caption VARCHAR,
    clue_text VARCHAR,
    clue_target INTEGER,
    clue_box INTEGER[],
    png BLOB,
    attributes VARCHAR,
    image_source VARCHAR
);
CREATE TYPE niah_question AS STRUCT(
    kind VARCHAR,
    attribute VARCHAR,
    question VARCHAR,
    options VARCHAR[],
    answer_index INTEGER,
    answer_letter VARCHAR,
    answer VARCHAR,
    text VARCHAR
);
CREATE TABLE niah (
    sample_id VARCHAR NOT NULL,
    input_id VARCHAR NOT NULL,
    benchmark VARCHAR NOT NULL,
    hops INTEGER NOT NULL,
    length INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    replicate INTEGER NOT NULL,
    fps DOUBLE NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    hold_frames INTEGER NOT NULL,
    haystack_root VARCHAR NOT NULL,
    haystack_frames INTEGER NOT NULL,
    haystack niah_segment[] NOT NULL,
    needles niah_needle[] NOT NULL,
    answer_chain INTEGER[] NOT NULL,
    distractor_chain INTEGER[] NOT NULL,
    prompt VARCHAR NOT NULL,
    questions niah_question[] NOT NULL,
    generator VARCHAR NOT NULL
);
COMMENT ON COLUMN niah.sample_id IS 'hash of the sample''s cell, replicate, hop count, seeds and haystack digest; unique';
COMMENT ON COLUMN niah.input_id IS 'the build input this sample is (one input per sample; stats: inputs = kept + rejected)';
COMMENT ON COLUMN niah.benchmark IS 'mh_niah (multi-hop chains with a distractor chain) | v_niah (single-hop, one needle)';
COMMENT ON COLUMN niah.hops IS 'clue needles in the answer chain before the final needle (0 for v_niah); score per hop count';
COMMENT ON COLUMN niah.length IS 'frames in the sample: haystack_frames plus hold_frames per needle; the grid''s length axis';
COMMENT ON COLUMN niah.depth IS 'percent (0-100) of the way through the sample where the final needle starts: frame round(depth/100 * (length - hold_frames)); the grid''s depth axis';
COMMENT ON COLUMN niah.replicate IS 'index of the sample within its (length, depth) cell';
COMMENT ON COLUMN niah.fps IS 'frame rate of the sample as a video; haystack frames were sampled from dataset videos at this rate';
COMMENT ON COLUMN niah.width IS 'frame width of the needle PNGs and of a rendered sample (haystack frames are scaled to it)';
COMMENT ON COLUMN niah.height IS 'frame height of the needle PNGs and of a rendered sample';
COMMENT ON COLUMN niah.hold_frames IS 'consecutive frames each needle is shown, starting at its frame_index';
COMMENT ON COLUMN niah.haystack_root IS 'absolute path of the output folder whose videos make the haystack (uris are relative to it)';
COMMENT ON COLUMN niah.haystack_frames IS 'haystack frames in the sample: the count of all timestamps in haystack';
COMMENT ON COLUMN niah.haystack IS 'haystack segments in order: {video_id, uri (relative to haystack_root), timestamps in seconds, increasing}; a video may appear again when the dataset is shorter than the haystack';
COMMENT ON COLUMN niah.needles IS 'needles in frame order: {role clue|final|distractor_clue|distractor_final, chain answer|distractor, chain_position (0 = first of its chain), frame_index (first frame), caption, clue_text (the instruction drawn on it, null on final needles), clue_target (index in needles of the needle the clue names), clue_box [x, y, width, height] of the clue text box in the frame, png (the whole needle frame, width x height), attributes (JSON: exact shape/colour/count/position/word of synthetic needles, {} for user images), image_source (synthetic or the manifest url)}';
COMMENT ON COLUMN niah.answer_chain IS 'indices into needles from the needle the prompt names to the final needle (the answer chain, in clue order)';
COMMENT ON COLUMN niah.distractor_chain IS 'indices into needles of the distractor chain in clue order (empty for v_niah); it never leads into the answer chain';
COMMENT ON COLUMN niah.prompt IS 'instruction that precedes each question: names the first needle (mh_niah) or says one inserted card is the final frame (v_niah)';
COMMENT ON COLUMN niah.questions IS 'two multiple-choice questions: {kind caption|visual, attribute asked (colour|shape|count|word|manifest; null for caption), question, options (4), answer_index, answer_letter (A-D, balanced over the benchmark), answer (option text), text (prompt, question and lettered options: what a model is asked)}';
COMMENT ON COLUMN niah.generator IS 'name and version of the builder that wrote the sample';
