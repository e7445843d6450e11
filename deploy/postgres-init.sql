-- One database per service, as each service owns its data (docs/architecture).
CREATE DATABASE portal_identity;
CREATE DATABASE portal_record;
CREATE DATABASE portal_employment;
CREATE DATABASE portal_document;
CREATE DATABASE portal_notification;
