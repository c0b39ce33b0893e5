-- A study database written by initopt before validation splits (schema version 1): two configurations
-- done, two pending; made by running tests/study/data/legacy_spec.toml with that version. Never edit.
PRAGMA user_version = 1;
PRAGMA application_id = 1768843636;
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE studies (
        name         TEXT PRIMARY KEY,
        spec         TEXT NOT NULL,          -- JSON
        workload_key TEXT NOT NULL,          -- data + model + train settings; results mix only under one key
        environment  TEXT NOT NULL,          -- JSON: versions, device, ... of the creating run
        created      TEXT NOT NULL,          -- ISO 8601, UTC
        updated      TEXT NOT NULL
    );
INSERT INTO studies VALUES('legacy','{"name": "legacy", "description": "", "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [8]}, "train": {"epochs": 2, "batch_size": 64, "loss": "bce", "metric": "accuracy"}, "grid": {"init": [{"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"}], "optimizer": [{"name": "adamw", "lr": [0.001, 0.01]}], "seeds": [0, 1]}}','eb8fe590daa6','{"initopt": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6", "platform": "Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36", "device": "cpu", "cpu_threads": 2}','2026-12-07T12:29:44.517+00:00','2026-12-07T12:29:44.517+00:00');
CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        study       TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        started     TEXT NOT NULL,
        finished    TEXT,                    -- NULL: still running, or killed
        engine      TEXT NOT NULL,
        environment TEXT NOT NULL,           -- JSON
        n_configs   INTEGER NOT NULL
    );
INSERT INTO runs VALUES(1,'legacy','2026-12-07T12:29:44.523+00:00','2026-12-07T12:29:44.941+00:00','bundled','{"initopt": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6", "platform": "Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36", "device": "cpu", "cpu_threads": 2}',4);
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
INSERT INTO configs VALUES('legacy','3795980a809f',1,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.0010000000000000000208,0.010000000000000000208,NULL,'{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.01, "amsgrad": false, "decay": "coupled"}',0,'done',2,1.1181017926106087134,0.97163498401641845703,0.68421053886413574218,NULL,NULL,0.1148547425000288058,'2026-12-07T12:29:44.622+00:00','2026-12-07T12:29:44.852+00:00');
INSERT INTO configs VALUES('legacy','2611cbe12646',2,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.0010000000000000000208,0.010000000000000000208,NULL,'{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.01, "amsgrad": false, "decay": "coupled"}',1,'done',2,0.63803960608912035912,0.56470412015914916992,0.78947371244430541992,NULL,NULL,0.1148547425000288058,'2026-12-07T12:29:44.622+00:00','2026-12-07T12:29:44.852+00:00');
INSERT INTO configs VALUES('legacy','9889c0a05a7e',3,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.010000000000000000208,0.010000000000000000208,NULL,'{"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.01, "amsgrad": false, "decay": "coupled"}',0,'pending',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO configs VALUES('legacy','913118900f70',4,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.010000000000000000208,0.010000000000000000208,NULL,'{"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.01, "amsgrad": false, "decay": "coupled"}',1,'pending',0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
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
INSERT INTO epochs VALUES('legacy','2611cbe12646',1,0.74241421550184816258,0.7340659343279325455,0.66132974624633789062,0.73684209585189819335,0.042887741001322865486);
INSERT INTO epochs VALUES('legacy','2611cbe12646',2,0.63803960608912035912,0.80879120918420643882,0.56470412015914916992,0.78947371244430541992,0.10494659899995895102);
INSERT INTO epochs VALUES('legacy','3795980a809f',1,1.293604578880163336,0.62637362676662400318,1.1252470016479492187,0.6491228342056274414,0.042887741001322865486);
INSERT INTO epochs VALUES('legacy','3795980a809f',2,1.1181017926106087134,0.62417582417582417875,0.97163498401641845703,0.68421053886413574218,0.10494659899995895102);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('runs',1);
CREATE INDEX configs_by_status ON configs (study, status, seq);
COMMIT;
