-- One database per service: services share no tables and talk only through events.
-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), as
-- POSTGRES_USER, which then owns them.
CREATE DATABASE qg_ingest;
CREATE DATABASE qg_roster;
CREATE DATABASE qg_rules;
CREATE DATABASE qg_penalties;
