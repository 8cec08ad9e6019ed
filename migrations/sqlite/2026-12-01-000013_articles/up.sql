-- Part 1 of the plan: the open letter, news and stories. An article is
-- written in Markdown and shown as sanitised HTML; it moves
-- draft → review → published → archived, each move an event. A story
-- that names a child is published only with the guardian's consent on
-- record (who recorded it, when). The index on students' names lets the
-- publish check look the article's word sequences up in the roster.
CREATE TABLE articles (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                  TEXT NOT NULL CHECK (kind IN ('open_letter', 'news', 'story')),
    title                 TEXT NOT NULL,
    slug                  TEXT NOT NULL UNIQUE,
    summary               TEXT NOT NULL,
    body_markdown         TEXT NOT NULL,
    campaign_id           BIGINT REFERENCES campaigns (id),
    admin_unit_code       TEXT REFERENCES admin_units (code),
    cover_image           TEXT,
    status                TEXT NOT NULL CHECK (status IN ('draft', 'review', 'published', 'archived')),
    published_at          TIMESTAMP,
    author                TEXT NOT NULL,
    consent_recorded_by   TEXT,
    consent_recorded_at   TIMESTAMP,
    consent_note          TEXT,
    version               BIGINT NOT NULL DEFAULT 1,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX articles_published_idx ON articles (status, published_at);

CREATE TABLE article_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id  BIGINT NOT NULL REFERENCES articles (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX article_events_article_idx ON article_events (article_id);

CREATE INDEX students_full_name_idx ON students (full_name);
