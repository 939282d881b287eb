-- One database per service: each service is the only owner of its data.
CREATE DATABASE registry;
CREATE DATABASE reporting;
CREATE DATABASE awards;
-- Keycloak's own database: users, sessions, the realm.
CREATE DATABASE keycloak;
