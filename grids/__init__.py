"""WHERE and WHO: the region tree (city → district → street → community → unit grid) with codes and boundaries,
point → grid location, departments (处置单位), staff users and the role assignments that give their area scope."""
