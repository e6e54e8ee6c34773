"""The taxonomy on the web: a static site (:mod:`.site`, ``uts ontology site``) and a local web
app (:mod:`.app`, ``uts serve``) with mapping review and edit proposals. Both render the same
pages (:mod:`.pages`) and call the library functions the command line uses."""
