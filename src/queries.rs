//! Every SQL statement mytriage runs, from `queries/`. Each file can be pasted into `mysql` as is.

/// Server variables used to detect the flavor.
pub(crate) const SERVER_VARIABLES: &str = include_str!("../queries/server_variables.sql");
/// Which diagnostic tables exist.
pub(crate) const SERVER_TABLES: &str = include_str!("../queries/server_tables.sql");
/// The account's grants.
pub(crate) const SHOW_GRANTS: &str = include_str!("../queries/show_grants.sql");
/// The account the server matched.
pub(crate) const CURRENT_USER: &str = include_str!("../queries/current_user.sql");
/// Whether the MDL instrument is enabled.
pub(crate) const MDL_INSTRUMENT: &str = include_str!("../queries/mdl_instrument.sql");
/// Read back the session set-up on MySQL and Aurora.
pub(crate) const SESSION_CHECK_MYSQL: &str = include_str!("../queries/session_check.mysql.sql");
/// Read back the session set-up on MariaDB.
pub(crate) const SESSION_CHECK_MARIADB: &str = include_str!("../queries/session_check.mariadb.sql");
/// Our own program_name connection attribute.
pub(crate) const OWN_PROGRAM_NAME: &str = include_str!("../queries/own_program_name.sql");
