-- One database, one schema and one login role per service: a service cannot read another's tables.
CREATE ROLE assessment LOGIN PASSWORD 'assessment';
CREATE ROLE training LOGIN PASSWORD 'training';
CREATE ROLE reporting LOGIN PASSWORD 'reporting';
CREATE SCHEMA assessment AUTHORIZATION assessment;
CREATE SCHEMA training AUTHORIZATION training;
CREATE SCHEMA reporting AUTHORIZATION reporting;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
