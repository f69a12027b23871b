# Marked blocks in shared files (.bashrc, sshd_config): "# >>> mpimg:<id> >>>" ... "# <<< mpimg:<id> <<<".
# head/tail keep every other byte as it was, including a missing final newline.

# Prints "START END" (line numbers of the two markers) or returns 1.
mpimg_block_lines() {
  _mb_s=$(grep -n -x -F -e "# >>> mpimg:$2 >>>" "$1" 2>/dev/null | head -n 1 | cut -d: -f1)
  [ -n "$_mb_s" ] || return 1
  _mb_e=$(tail -n "+$_mb_s" "$1" | grep -n -x -F -e "# <<< mpimg:$2 <<<" | head -n 1 | cut -d: -f1)
  [ -n "$_mb_e" ] || return 1
  printf '%s %s\n' "$_mb_s" "$((_mb_s + _mb_e - 1))"
}

# mpimg_block_remove FILE ID: removes the block, keeping every other byte, the file's mode and owner.
# Returns 0 when there is no block. The new content is written next to FILE and renamed over it only
# once it is complete (every write succeeded, size = old size - block): on a full disk or any other
# failure FILE is left as it was, the temp file is removed, the reason is on stderr and it returns 1.
mpimg_block_remove() {
  [ -f "$1" ] || return 0
  _mb_l=$(mpimg_block_lines "$1" "$2") || return 0
  _mb_tmp="$1.mpimg-tmp"
  _mb_why=""
  # -L: for a symlinked file, the mode and owner of the file it points to (what the rename replaces it with).
  if ! _mb_st=$(stat -L -c '%u:%g %a %s' -- "$1"); then
    _mb_why="cannot read its owner, mode and size"
  else
    _mb_own=${_mb_st%% *}; _mb_st=${_mb_st#* }; _mb_mode=${_mb_st% *}; _mb_size=${_mb_st#* }
    _mb_blk=$(head -n "${_mb_l#* }" -- "$1" | tail -n "+${_mb_l% *}" | wc -c)
    _mb_want=$((_mb_size - _mb_blk))
    # A temp file left by an interrupted run is stale: start afresh (also if it is a link).
    if ! rm -f -- "$_mb_tmp"; then
      _mb_why="cannot remove the stale temp file $_mb_tmp"
    elif ! (umask 077 && head -n "$((${_mb_l% *} - 1))" -- "$1" > "$_mb_tmp") ||
         ! tail -n "+$((${_mb_l#* } + 1))" -- "$1" >> "$_mb_tmp"; then
      _mb_why="writing the new content to $_mb_tmp failed (disk full?)"
    elif [ "$(stat -c %s -- "$_mb_tmp" 2>/dev/null)" != "$_mb_want" ]; then
      _mb_why="the new content in $_mb_tmp is incomplete (disk full?)"
    elif ! chown -- "$_mb_own" "$_mb_tmp" || ! chmod -- "$_mb_mode" "$_mb_tmp"; then
      _mb_why="cannot give $_mb_tmp the owner $_mb_own and mode $_mb_mode of the file"
    elif ! sync -- "$_mb_tmp"; then
      _mb_why="cannot flush $_mb_tmp to disk"
    elif ! mv -f -- "$_mb_tmp" "$1"; then
      _mb_why="cannot rename $_mb_tmp over it"
    fi
  fi
  [ -n "$_mb_why" ] || return 0
  rm -f -- "$_mb_tmp" 2>/dev/null || :
  printf 'mpimg: could not remove the block "mpimg:%s" from %s: %s; %s is unchanged\n' "$2" "$1" "$_mb_why" "$1" >&2
  return 1
}
