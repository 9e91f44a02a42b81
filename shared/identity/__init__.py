"""Identity: who a person is (OpenID Connect identities, web sessions) and how they join and
leave organisations (invitations, memberships, roles), with an audit log of every change."""
