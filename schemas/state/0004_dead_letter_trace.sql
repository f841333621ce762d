-- cdc-apply: the W3C trace context a dead-lettered record carried in its
-- traceparent/tracestate headers (Debezium's ActivateTracingSpan SMT, the
-- OpenTelemetry producer interceptor), validated: NULL when it had none or
-- an invalid one (the raw headers stay in the headers column). trace_id
-- finds the record from a trace: WHERE trace_id = '4bf9...'.
ALTER TABLE :"schema".dead_letter
    ADD COLUMN IF NOT EXISTS trace_id text,
    ADD COLUMN IF NOT EXISTS span_id text,
    ADD COLUMN IF NOT EXISTS trace_flags smallint,
    ADD COLUMN IF NOT EXISTS tracestate text;

CREATE INDEX IF NOT EXISTS dead_letter_trace_idx
    ON :"schema".dead_letter (trace_id) WHERE trace_id IS NOT NULL;
