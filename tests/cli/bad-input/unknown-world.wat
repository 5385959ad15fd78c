;; RUN: validate % --wit ../fixtures/two-worlds.wit --world nope
;; RUN: validate % --wit ../fixtures/two-worlds.wit --world example:two/nope
;; RUN: validate % --wit ../fixtures/two-worlds.wit
(component)
