"""Who is calling: tokens, passwords, the principal, and what each role may see."""
