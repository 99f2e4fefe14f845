-- The W3C traceparent of the request that queued a courier message or a
-- web-hook delivery ('' when it was queued outside a traced request): the
-- worker's delivery span continues that trace.

-- +goose Up
ALTER TABLE courier_messages ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN trace_parent;
ALTER TABLE courier_messages DROP COLUMN trace_parent;
