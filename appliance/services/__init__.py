"""What a citizen and a maintainer do at the booth: the visit (session), the citizen's use-cases, calls
for help, progress queries, on-site maintenance and every printed document."""
