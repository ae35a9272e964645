"""Views of the grants, split by subject: decisions (single and bulk) and the steering home,
agreements, payments and reports, the envelope's dashboard, the exports."""
