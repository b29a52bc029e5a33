"""Applications of the physics core besides the studies: the command line (:mod:`.cli`),
the benchmark command (:mod:`.bench`), lessons and their handouts (:mod:`.lessons`), the
composite-system experiments (:mod:`.chsh`, :mod:`.signalling`) and run exports that carry
their own metadata (:mod:`.export`)."""
