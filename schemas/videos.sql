-- One row per fetched and normalized video. Contract version 4 (2: timeline, summary, summary_model;
-- 3: license as a short id, license_text, page_url; 4: split).
CREATE TABLE videos (
    video_id VARCHAR NOT NULL,
    input_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    uri VARCHAR NOT NULL,
    title VARCHAR,
    duration_s DOUBLE NOT NULL,
    fps DOUBLE NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    video_codec VARCHAR NOT NULL,
    audio_codec VARCHAR,
    bytes BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    normalized_by VARCHAR NOT NULL,
    license VARCHAR,
    license_text VARCHAR,
    uploader VARCHAR,
    page_url VARCHAR,
    has_subtitles BOOLEAN NOT NULL,
    has_chapters BOOLEAN NOT NULL,
    has_annotations BOOLEAN NOT NULL,
    metadata VARCHAR,
    sample_frames INTEGER,
    sample_fps DOUBLE,
    sample_timestamps DOUBLE[],
    timestamp_prompt VARCHAR,
    timeline VARCHAR,
    summary VARCHAR,
    summary_model VARCHAR,
    split VARCHAR,
    fetched_at TIMESTAMP WITH TIME ZONE NOT NULL
);
COMMENT ON COLUMN videos.video_id IS 'sha256-derived id of the canonical source (extractor:id for sites, content hash for direct files); safe in paths';
COMMENT ON COLUMN videos.input_id IS 'sha256-derived id of the original input row (url or path) this video came from';
COMMENT ON COLUMN videos.source IS 'kind of source: demo | manifest | folder';
COMMENT ON COLUMN videos.url IS 'the original URL or path as given in the source';
COMMENT ON COLUMN videos.uri IS 'normalized H.264 media file, relative to the output folder';
COMMENT ON COLUMN videos.title IS 'title from the site info JSON or the file name';
COMMENT ON COLUMN videos.duration_s IS 'duration of the normalized file in seconds (probed with PyAV)';
COMMENT ON COLUMN videos.fps IS 'average frame rate of the normalized video stream';
COMMENT ON COLUMN videos.width IS 'width in pixels of the normalized video stream';
COMMENT ON COLUMN videos.height IS 'height in pixels of the normalized video stream';
COMMENT ON COLUMN videos.video_codec IS 'codec of the normalized video stream (h264)';
COMMENT ON COLUMN videos.audio_codec IS 'codec of the normalized audio stream, null when the video has no audio';
COMMENT ON COLUMN videos.bytes IS 'size of the normalized file in bytes';
COMMENT ON COLUMN videos.sha256 IS 'sha256 of the normalized file';
COMMENT ON COLUMN videos.normalized_by IS 'copy (stream copy, input already conformed) | reencode';
COMMENT ON COLUMN videos.license IS 'licence as a short id (cc-by, cc-by-sa, cc-by-nc, cc0, public-domain, unknown, or a slug of other text; fetching/licences.py) from the manifest''s license/licence column, else the site info JSON';
COMMENT ON COLUMN videos.license_text IS 'the licence as the manifest or the site wrote it (e.g. Creative Commons Attribution license (reuse allowed)), null when neither said';
COMMENT ON COLUMN videos.uploader IS 'uploader or channel: the manifest''s uploader column, else the site info JSON (uploader, channel), when known';
COMMENT ON COLUMN videos.page_url IS 'page to credit and check the licence on: the manifest''s page_url column, else the site''s webpage_url (for a direct link, the link itself); null for folder files';
COMMENT ON COLUMN videos.has_subtitles IS 'subtitles or automatic captions were kept next to the media';
COMMENT ON COLUMN videos.has_chapters IS 'chapters were present in the site info JSON';
COMMENT ON COLUMN videos.has_annotations IS 'a ground-truth sidecar (demo world or folder JSON) was kept';
COMMENT ON COLUMN videos.metadata IS 'JSON object of the source row columns other than url';
COMMENT ON COLUMN videos.sample_frames IS 'sampling plan: frame count T for the whole video';
COMMENT ON COLUMN videos.sample_fps IS 'sampling plan: the sampling fps the plan was computed with';
COMMENT ON COLUMN videos.sample_timestamps IS 'sampling plan: the T frame timestamps in seconds';
COMMENT ON COLUMN videos.timestamp_prompt IS 'sampling plan: the timestamp prompt that precedes questions';
COMMENT ON COLUMN videos.timeline IS 'captioned timeline: JSON list of the captioned clips in time order, [{start_s, end_s, caption, source, model}], whatever backend produced them; null before the caption stage';
COMMENT ON COLUMN videos.summary IS 'description of the whole video: a text LLM''s (summarize stage) or the timeline as ordered lines with times';
COMMENT ON COLUMN videos.summary_model IS 'what wrote the summary: the text LLM id or path, or timeline (the ordered concatenation)';
COMMENT ON COLUMN videos.split IS 'train | val | test: assigned per video by the runner at the recipe''s splits fractions (every qa row of the video has the same split); null for rows written outside a run';
COMMENT ON COLUMN videos.fetched_at IS 'UTC time the fetch stage finished this video';
