"""Reading the text out of the files people send (referral forms, letters, Outlook's winmail.dat).

Files are hostile input from the internet. A parser can be made to take minutes or gigabytes (a
45 KB DOCX of 29 MB of empty paragraphs; a DOCX whose zip directory understates its sizes), so:

- `readers`: the readers themselves, pure (bytes in, text and inner files out), bounded;
- `sandbox`: runs the readers in a child process with limits on CPU time, memory and wall-clock
  time, never in the worker that stores and screens the message;
- `job`: the RQ job that reads a stored message's files in the sandbox, stores their text (and a
  winmail.dat's inner files) and hands the message back to the pipeline as a revision, so the
  referral is screened again with what the files say.
"""
