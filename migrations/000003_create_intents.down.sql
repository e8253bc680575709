DROP TABLE create_intents;
