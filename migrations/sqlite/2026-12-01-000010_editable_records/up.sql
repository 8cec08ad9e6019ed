-- Donors and campaigns are edited (PATCH with If-Match): each carries the
-- version its editors read, like students and schools.
ALTER TABLE donors ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE campaigns ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
