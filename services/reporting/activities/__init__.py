"""Activities: the movement's work (patrols, trainings, …) with their measured quantities."""
