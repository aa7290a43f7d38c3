-- Connection counters. Max_used_connections_time exists on MySQL 8.0+ only; SHOW ... WHERE
-- returns just the counters that exist.
SHOW GLOBAL STATUS WHERE Variable_name IN (
  'Threads_connected', 'Threads_running', 'Max_used_connections', 'Max_used_connections_time',
  'Connection_errors_max_connections', 'Aborted_connects', 'Uptime'
)
