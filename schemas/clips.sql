-- One row per clip span of a video. Contract version 2 (2: caption_source names every backend, model backends).
CREATE TABLE clips (
    clip_id VARCHAR NOT NULL,
    video_id VARCHAR NOT NULL,
    clip_index INTEGER NOT NULL,
    start_s DOUBLE NOT NULL,
    end_s DOUBLE NOT NULL,
    start_frame INTEGER NOT NULL,
    end_frame INTEGER NOT NULL,
    shot_boundaries_s DOUBLE[] NOT NULL,
    detector VARCHAR NOT NULL,
    black_score DOUBLE,
    static_score DOUBLE,
    quality_score DOUBLE,
    caption VARCHAR,
    caption_source VARCHAR,
    caption_model VARCHAR,
    attributes VARCHAR,
    clip_uri VARCHAR,
    clip_cut VARCHAR
);
COMMENT ON COLUMN clips.clip_id IS 'video_id plus clip_index, hashed; unique across the dataset';
COMMENT ON COLUMN clips.video_id IS 'the video this clip belongs to (videos.video_id)';
COMMENT ON COLUMN clips.clip_index IS '0-based position of the clip in its video';
COMMENT ON COLUMN clips.start_s IS 'clip start in seconds from the start of the normalized video';
COMMENT ON COLUMN clips.end_s IS 'clip end in seconds (exclusive)';
COMMENT ON COLUMN clips.start_frame IS 'first frame index of the clip';
COMMENT ON COLUMN clips.end_frame IS 'frame index one past the last frame of the clip';
COMMENT ON COLUMN clips.shot_boundaries_s IS 'detected shot cuts (seconds) that fall strictly inside the clip, after merging';
COMMENT ON COLUMN clips.detector IS 'shot detector that produced the span: transnetv2 | content | fixed | annotations';
COMMENT ON COLUMN clips.black_score IS 'share of near-black / blank sampled frames, 0..1';
COMMENT ON COLUMN clips.static_score IS '1 - normalized motion between sampled frames, 0..1 (1 = static)';
COMMENT ON COLUMN clips.quality_score IS 'sharpness-based quality, 0..1 (1 = sharp)';
COMMENT ON COLUMN clips.caption IS 'caption of the clip; null before the caption stage';
COMMENT ON COLUMN clips.caption_source IS 'caption backends that wrote the caption, joined by +: annotations | subtitles | transformers | vllm (e.g. transformers+subtitles); all configured ones when the caption is null';
COMMENT ON COLUMN clips.caption_model IS 'what each backend in caption_source used, joined by +: model id or path, demo-world-sidecar, <format>:<file> of dataset annotations, subtitle-cues[+chapters]';
COMMENT ON COLUMN clips.attributes IS 'JSON list of the labelled events inside the clip when known (annotations: span clipped to the clip, event_start_s/event_end_s, caption; demo world adds shape, color, action, background)';
COMMENT ON COLUMN clips.clip_uri IS 'the clip as its own mp4, relative to the output folder; null unless segment.write_clip_files';
COMMENT ON COLUMN clips.clip_cut IS 'how the clip file was cut: copy (stream copy from a keyframe) | reencode; null without a clip file';
