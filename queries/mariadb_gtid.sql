-- MariaDB's GTID positions and the parallel applier's mode.
SELECT @@GLOBAL.gtid_slave_pos AS gtid_slave_pos,
       @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos,
       @@GLOBAL.slave_parallel_mode AS parallel_mode,
       @@GLOBAL.slave_parallel_threads AS parallel_threads
