"""Staff pages and actions, and the client's share page.

Every view starts with one lookup helper that loads the object together with the user's role in its
project: someone who is not a member gets 404 (they cannot learn that it exists), a member whose role
does not allow the action gets 403. Actions are POST only and answer with a redirect and a message;
an invalid form re-renders its page with the errors.
"""

from projects.views import projects, references, sequences, sharing, usage

__all__ = ["projects", "references", "sequences", "sharing", "usage"]
