-- Semi-synchronous replication, source and replica side (both spellings).
SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_status',
  'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_clients',
  'Rpl_semi_sync_replica_status', 'Rpl_semi_sync_slave_status')
