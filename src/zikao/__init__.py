"""zikao: records and self-service for the Higher Education Self-study Examinations (自考)."""
