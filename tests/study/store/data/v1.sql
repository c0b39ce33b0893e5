-- An initopt store at schema version 1 (initopt 0.1.0), as `sqlite3 v1.db .dump` writes it.
-- Kept so that every later version proves it still opens version-1 files. Never edit.
PRAGMA user_version = 1;
PRAGMA application_id = 1768843636;
BEGIN TRANSACTION;
CREATE TABLE configs (
        study          TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        id             TEXT NOT NULL,        -- content hash from the spec
        seq            INTEGER NOT NULL,     -- insertion order within the study (rowids may move on VACUUM)
        init           TEXT NOT NULL,
        init_params    TEXT NOT NULL,        -- JSON
        optimizer      TEXT NOT NULL,
        lr             REAL,
        weight_decay   REAL,
        momentum       REAL,
        hyper          TEXT NOT NULL,        -- JSON: every optimizer argument as given
        seed           INTEGER NOT NULL,
        status         TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),
        epochs_run     INTEGER NOT NULL DEFAULT 0,
        train_loss     REAL,                 -- final values; NULL = NaN once the config has ended
        val_loss       REAL,
        val_metric     REAL,
        diverged_epoch INTEGER,
        error          TEXT,
        wall_seconds   REAL,
        started        TEXT,
        finished       TEXT,
        PRIMARY KEY (study, id)
    );
INSERT INTO "configs" VALUES('xor-demo','3f2a9c1e',1,'he_normal','{}','adamw',0.001,0.01,NULL,'{"lr": 0.001, "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-08}',0,'done',2,0.41,NULL,0.8,NULL,NULL,0.02,'2026-11-23T02:02:06.166+00:00','2026-11-23T02:02:06.166+00:00');
INSERT INTO "configs" VALUES('xor-demo','8b7d0e44',2,'gaussian(std=0.01)','{"std": 0.01}','sgd',0.1,NULL,0.9,'{"lr": 0.1, "momentum": 0.9}',1,'pending',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE epochs (
        study        TEXT NOT NULL,
        config_id    TEXT NOT NULL,
        epoch        INTEGER NOT NULL CHECK (epoch >= 1),
        train_loss   REAL,                   -- NULL = NaN
        train_metric REAL,
        val_loss     REAL,
        val_metric   REAL,
        seconds      REAL,
        PRIMARY KEY (study, config_id, epoch),
        FOREIGN KEY (study, config_id) REFERENCES configs (study, id) ON DELETE CASCADE
    ) WITHOUT ROWID
    ;
INSERT INTO "epochs" VALUES('xor-demo','3f2a9c1e',1,0.69,0.5,0.68,0.52,0.01);
INSERT INTO "epochs" VALUES('xor-demo','3f2a9c1e',2,0.41,0.81,NULL,0.8,0.01);
CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        study       TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        started     TEXT NOT NULL,
        finished    TEXT,                    -- NULL: still running, or killed
        engine      TEXT NOT NULL,
        environment TEXT NOT NULL,           -- JSON
        n_configs   INTEGER NOT NULL
    );
INSERT INTO "runs" VALUES(1,'xor-demo','2026-11-23T02:02:06.165+00:00','2026-11-23T02:02:06.166+00:00','sequential','{"device": "cpu"}',2);
CREATE TABLE studies (
        name         TEXT PRIMARY KEY,
        spec         TEXT NOT NULL,          -- JSON
        workload_key TEXT NOT NULL,          -- data + model + train settings; results mix only under one key
        environment  TEXT NOT NULL,          -- JSON: versions, device, ... of the creating run
        created      TEXT NOT NULL,          -- ISO 8601, UTC
        updated      TEXT NOT NULL
    );
INSERT INTO "studies" VALUES('xor-demo','{"grid": {"optimizer": ["adamw"], "lr": [0.001]}, "seeds": [0, 1]}','mlp-xor-2ep','{"initopt": "0.1.0", "torch": "2.11.0", "device": "cpu"}','2026-11-23T02:02:06.165+00:00','2026-11-23T02:02:06.165+00:00');
CREATE INDEX configs_by_status ON configs (study, status, seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',1);
COMMIT;
