"""Forms of the grants' pages, split by subject as the views are (the decision forms are
applications.forms_review's: they sit on the instruction page of the dossier)."""
