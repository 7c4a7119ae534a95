"""Open casting calls: a role open to submissions, talent and agents applying, casting teams reviewing."""
