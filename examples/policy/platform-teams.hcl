# Platform team: one Driftwarden for many teams, each team's findings in its own channel.
# Teams are found by module, by state, or by the Team tag the resources declare.
# The last rule that sets a channel wins, so the catch-all comes first.

rule "default-channel" {
  description = "Anything no team claims goes to the platform channel."
  channel     = "C0PLATFORM"
}

rule "payments-module" {
  match {
    module = "module.payments"
  }
  channel = "C0PAYMENTS"
}

rule "payments-production" {
  match {
    address = "module.payments.*"
    account = ["111122223333"]
  }
  severity = "high"
}

rule "data-team-states" {
  match {
    state = ["s3://acme-tfstate/data/*", "s3://acme-tfstate/analytics/*"]
  }
  channel = "C0DATA"
}

rule "tagged-search-team" {
  match {
    tag = { Team = "search" }
  }
  channel = "C0SEARCH"
}

rule "sandbox-is-low" {
  description = "Sandbox accounts: tell the team, but never louder than low."
  match {
    account = ["999988887777"]
  }
  severity = "low"
}
