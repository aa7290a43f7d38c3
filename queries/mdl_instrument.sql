-- Whether metadata locks are instrumented (performance_schema.metadata_locks is filled only then).
SELECT ENABLED FROM performance_schema.setup_instruments WHERE NAME = 'wait/lock/metadata/sql/mdl'
