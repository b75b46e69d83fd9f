# bash completion for evserve; generated from src/config.rs by tests/packaging.rs.
_evserve() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        --tls-cert|--tls-key|--access-log|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -p|--port|-b|--bind|--workers|--io-threads|--max-connections|--unix-mode|--trusted-proxy|--trusted-header|--http2|--redirect-http|--mime|--cache-control|--header|--cache-control-for|--header-for|--cache-ttl|--compress|--compress-min|--compress-max|--compress-memory|--max-head-bytes|--max-uri-bytes|--max-headers|--max-body-bytes|--request-timeout|--idle-timeout|--write-timeout|--drain-timeout|--shutdown-delay|--admin|--log-format|--stats|--user|--group) COMPREPLY=(); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "-p --port -b --bind --workers --io-threads --max-connections --unix-mode --proxy-protocol --trusted-proxy --trusted-header --tls-cert --tls-key --tls-no-resumption --http2 --redirect-http --dotfiles --listing --spa --mime --cache-control --header --cache-control-for --header-for --cache-ttl --compress --compress-min --compress-max --compress-memory --max-head-bytes --max-uri-bytes --max-headers --max-body-bytes --request-timeout --idle-timeout --write-timeout --drain-timeout --shutdown-delay --admin --access-log --log-format --stats --trace --user --group -c --config -h --help -V --version" -- "$cur"))
    else
        COMPREPLY=($(compgen -d -- "$cur"))
    fi
}
complete -F _evserve evserve
