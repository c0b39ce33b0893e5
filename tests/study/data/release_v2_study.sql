-- made by initopt at commit 'Report: the best setting of each optimizer' (schema v2, before train.no_decay): tests/study/data/release_spec.toml, seeds [0]
PRAGMA user_version = 2;
PRAGMA application_id = 1768843636;
BEGIN TRANSACTION;
CREATE TABLE checkpoints (
        study      TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        bundle     TEXT NOT NULL,            -- hash of the bundle's sorted configuration ids
        config_ids TEXT NOT NULL,            -- JSON list, in the bundle's order
        epoch      INTEGER NOT NULL,         -- the last finished epoch the state is at
        state      BLOB NOT NULL,            -- torch.save of parameters, optimizer, data order, RNG
        written    TEXT NOT NULL,
        PRIMARY KEY (study, bundle)
    );
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
        finished       TEXT, test_loss REAL, test_metric REAL, owner TEXT, heartbeat REAL,
        PRIMARY KEY (study, id)
    );
INSERT INTO "configs" VALUES('release','786a0fd793ae',1,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.001,0.1,NULL,'{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.1, "amsgrad": false, "decay": "coupled"}',0,'done',2,1.19487983315855594845e+00,8.60064387321472167968e-01,6.37362658977508544921e-01,NULL,NULL,6.20685014982882421463e-02,'2026-12-07T16:28:22.753+00:00','2026-12-07T16:28:22.878+00:00',1.01561319828033447265e+00,6.75438582897186279296e-01,NULL,NULL);
INSERT INTO "configs" VALUES('release','79c3ffae4935',2,'he_normal','{"mode": "fan_in", "nonlinearity": "relu"}','adamw',0.01,0.1,NULL,'{"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.1, "amsgrad": false, "decay": "coupled"}',0,'done',2,3.38681693096737290726e-01,1.90871983766555786132e-01,9.45054948329925537109e-01,NULL,NULL,6.20685014982882421463e-02,'2026-12-07T16:28:22.753+00:00','2026-12-07T16:28:22.878+00:00',2.51121729612350463867e-01,9.12280678749084472656e-01,NULL,NULL);
CREATE TABLE epochs (
        study        TEXT NOT NULL,
        config_id    TEXT NOT NULL,
        epoch        INTEGER NOT NULL CHECK (epoch >= 1),
        train_loss   REAL,                   -- NULL = NaN
        train_metric REAL,
        val_loss     REAL,
        val_metric   REAL,
        seconds      REAL, test_loss REAL, test_metric REAL,
        PRIMARY KEY (study, config_id, epoch),
        FOREIGN KEY (study, config_id) REFERENCES configs (study, id) ON DELETE CASCADE
    ) WITHOUT ROWID
    ;
INSERT INTO "epochs" VALUES('release','786a0fd793ae',1,1.33768506364507988593e+00,6.23626371661385348055e-01,9.63290929794311523437e-01,6.15384638309478759765e-01,7.05298320026486180722e-02,1.13790857791900634765e+00,0.640350878238678);
INSERT INTO "epochs" VALUES('release','786a0fd793ae',2,1.19487983315855594845e+00,6.34615386580372864422e-01,8.60064387321472167968e-01,6.37362658977508544921e-01,9.16218099882826209068e-03,1.01561319828033447265e+00,6.75438582897186279296e-01);
INSERT INTO "epochs" VALUES('release','79c3ffae4935',1,9.43167543673253283564e-01,6.73076920456938676551e-01,3.50610822439193725585e-01,8.46153855323791503906e-01,7.05298320026486180722e-02,4.06485766172409057617e-01,8.77192974090576171875e-01);
INSERT INTO "epochs" VALUES('release','79c3ffae4935',2,3.38681693096737290726e-01,8.68131871406848665273e-01,1.90871983766555786132e-01,9.45054948329925537109e-01,9.16218099882826209068e-03,2.51121729612350463867e-01,9.12280678749084472656e-01);
CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        study       TEXT NOT NULL REFERENCES studies(name) ON DELETE CASCADE,
        started     TEXT NOT NULL,
        finished    TEXT,                    -- NULL: still running, or killed
        engine      TEXT NOT NULL,
        environment TEXT NOT NULL,           -- JSON
        n_configs   INTEGER NOT NULL
    );
INSERT INTO "runs" VALUES(1,'release','2026-12-07T16:28:22.695+00:00','2026-12-07T16:28:22.888+00:00','bundled','{"initopt": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6", "platform": "Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36", "device": "cpu", "cpu_threads": 2}',2);
CREATE TABLE studies (
        name         TEXT PRIMARY KEY,
        spec         TEXT NOT NULL,          -- JSON
        workload_key TEXT NOT NULL,          -- data + model + train settings; results mix only under one key
        environment  TEXT NOT NULL,          -- JSON: versions, device, ... of the creating run
        created      TEXT NOT NULL,          -- ISO 8601, UTC
        updated      TEXT NOT NULL
    );
INSERT INTO "studies" VALUES('release','{"name": "release", "description": "", "workload": {"dataset": "breast-cancer", "model": "mlp", "hidden": [8]}, "train": {"epochs": 2, "batch_size": 64, "loss": "bce", "metric": "accuracy", "validation": 0.2, "rank_by": "final"}, "grid": {"init": [{"name": "he_normal", "mode": "fan_in", "nonlinearity": "relu"}], "optimizer": [{"name": "adamw", "lr": [0.001, 0.01], "weight_decay": [0.1]}], "seeds": [0]}}','fbb1cf44a6fa','{"initopt": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6", "platform": "Linux-6.18.44-fc-v1272-x86_64-with-glibc2.36", "device": "cpu", "cpu_threads": 2}','2026-12-07T16:28:22.689+00:00','2026-12-07T16:28:22.689+00:00');
CREATE INDEX configs_by_status ON configs (study, status, seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',1);
COMMIT;
