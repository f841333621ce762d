-- cdc-apply: positions Kafka could no longer serve (retention ran, the topic
-- was recreated) that were skipped because --on-gap skip said so
-- (invariant 8). Written in the statement that moves the offset.
-- IF NOT EXISTS: a schema from before migrations may already have it (it was
-- added under version "1").
CREATE TABLE IF NOT EXISTS :"schema".gaps (
    id bigserial PRIMARY KEY,
    group_id text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    from_offset bigint,
    to_offset bigint NOT NULL,
    log_start bigint NOT NULL,
    log_end bigint NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now());
