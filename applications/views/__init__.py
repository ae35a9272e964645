"""Views of the applicant's dossiers, split by subject."""
