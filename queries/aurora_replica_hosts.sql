-- Aurora MySQL: every instance of the cluster, the writer's session id being MASTER_SESSION_ID.
SELECT SERVER_ID AS server_id,
       SESSION_ID AS session_id,
       REPLICA_LAG_IN_MILLISECONDS AS lag_ms,
       LAST_UPDATE_TIMESTAMP AS last_update
FROM information_schema.replica_host_status
ORDER BY SERVER_ID
