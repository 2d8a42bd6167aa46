"""Disease modules. Each defines the drives the immune state reads
(``autoimmune_drive``, ``inflammatory_drive``, ``complement_drive``) and its readouts."""
