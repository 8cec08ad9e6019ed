DROP TABLE audit_log;
DROP TABLE api_clients;
DROP TABLE users;
DROP TABLE admin_units;
