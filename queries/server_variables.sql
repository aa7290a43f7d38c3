-- Server facts for flavor detection. SHOW ... WHERE returns only the variables that exist, so one
-- statement works on MySQL 5.7-9.x, MariaDB and Aurora (aurora_version exists only there).
SHOW GLOBAL VARIABLES WHERE Variable_name IN (
  'version', 'version_comment', 'basedir', 'aurora_version', 'performance_schema', 'hostname',
  'read_only', 'max_connections', 'admin_port', 'extra_port', 'innodb_print_all_deadlocks',
  'transaction_isolation', 'tx_isolation'
)
