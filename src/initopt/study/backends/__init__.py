"""Where a study's bundles run: in this process (``local``) or as tasks on a Ray cluster (``ray``, imported
only when asked for). Either way the process that runs the study is the only one that writes its
store, through a ``StoreSink`` per bundle."""
