//! The end-to-end tests, one binary: each area a module, every test through gRPC against
//! components started for it (in this process, or as `portal serve` processes where a fault or
//! a log must be seen), on embedded stores and on PostgreSQL + Redis.

mod support;

mod authorization;
mod bench;
mod browser;
mod changes;
mod clients;
mod connections;
mod corrections;
mod documents;
mod employer;
mod faults;
mod feed;
mod fuzzing;
mod gateway;
mod logs;
mod lost_trn;
mod masks;
mod migrations;
mod names;
mod news;
mod observability;
mod one_login;
mod overload;
mod records;
mod redis_outage;
mod services;
mod shutdown;
mod sign_in;
mod slice;
mod stores;
mod tls;
mod training;
mod trn_requests;
mod verification;
mod watching;
