DROP TABLE retention_passes;
