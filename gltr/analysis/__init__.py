"""Reading what runs produced: results tables (report), the evidence run (evidence), figures (plots), attention
maps (attention) and pictures of prepared samples (show). Nothing here trains or prepares data of its own."""
