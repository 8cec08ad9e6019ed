DROP INDEX students_full_name_idx;
DROP TABLE article_events;
DROP TABLE articles;
