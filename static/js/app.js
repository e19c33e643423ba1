// Lead Navigator
