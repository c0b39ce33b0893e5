"""The init doctor: see vanishing, exploding, dead and symmetric signals before training, and fix them.

    from initopt.doctor import diagnose, TrainingMonitor
    diagnosis = diagnose(model, x[:256], y[:256], loss="bce")
    print(diagnosis.verdict, *diagnosis.suggestions, sep="\\n")
    history = initopt.fit(model, opt, train, loss="bce", callbacks=[TrainingMonitor()])

Modules: ``probes`` (hooks, one forward/backward), ``measures`` (the statistics), ``verdict``
(thresholds), ``suggest`` (advice), ``diagnosis`` (``diagnose``, ``Diagnosis``), ``table`` (rich),
``monitor`` (the training callback), ``plot`` (signal std against depth). See docs/doctor.md.
"""

from __future__ import annotations

from initopt.doctor.diagnosis import Diagnosis, diagnose
from initopt.doctor.monitor import MonitorRecord, RatioFlag, TrainingMonitor
from initopt.doctor.probes import LayerProbe, WeightProbe
from initopt.doctor.suggest import Suggestion
from initopt.doctor.verdict import LayerDiagnosis, Verdict

__all__ = [
    "Diagnosis",
    "LayerDiagnosis",
    "LayerProbe",
    "MonitorRecord",
    "RatioFlag",
    "Suggestion",
    "TrainingMonitor",
    "Verdict",
    "WeightProbe",
    "diagnose",
]
